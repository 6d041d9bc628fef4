export function fail(): never {
  throw new Error(‘Can’t parse the input’);
}
