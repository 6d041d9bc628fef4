const html = `<ul>${items.map((i) => `<li>${i.name} — ${i.price}</li>`).join('')}</ul>`;
const sql = `
  SELECT * FROM t WHERE a = '${a}' AND b = "${b}"
`;
const nested = `a${`b${`c${d}`}`}`;
const obj = `${ { a: '}' }.a }`;
const esc = `\`not closed\` ${'`'}`;
