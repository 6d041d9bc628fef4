console.log(“a”, ‘b’, “c’s”, ‘d“e’);
throw new Error(‘Can’t “parse” input’);
const x = ‘it's’;
const y = “x\”y”;
It’s prose — with ‘quotes’ “here”
