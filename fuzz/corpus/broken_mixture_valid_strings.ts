const apostrophe = 'It’s';
const quoted = "She said “hi”";
const templ = `It’s “${'x'}” — fine`;
const broken = “It’s broken”;
