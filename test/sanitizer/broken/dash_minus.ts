export function diff(a: number, b: number): number {
  return a — b;
}
export const n = 10 – 3;
