const a = 'x';
const b = `y
${a}`;
// c
const d = “e”;
