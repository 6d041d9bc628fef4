const t = ‘It’s’;
const u = 'It’s';
