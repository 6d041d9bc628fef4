const items = ["a"];
const html = `<ul>${items.map((i) => `<li>${i}