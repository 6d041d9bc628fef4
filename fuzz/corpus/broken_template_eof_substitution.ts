const total = 3;
const items = [{ price: 1 }];
const msg = `Total: ${items.map((i) => i.price