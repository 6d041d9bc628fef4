const name = ‘Ada Lovelace’;
export { name };
