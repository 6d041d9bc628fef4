// comment const x = `a`;
const y = 1; /re/.test(s);
