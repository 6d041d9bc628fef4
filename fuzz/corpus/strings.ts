const a = 'It’s';
const b = "“quoted”";
const c = 'line \
continued';
const d = "esc \" still";
const e = '\'';
const f = 'unterminated
const g = `ok`;
