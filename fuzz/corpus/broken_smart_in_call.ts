console.log(“Total:”, total, ‘items’);
