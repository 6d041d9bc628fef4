const a = “mixed";
const b = ‘also';
export { a, b };
