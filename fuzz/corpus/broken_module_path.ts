declare module lodash/fp {
  export function map<T, U>(f: (x: T) => U): (xs: T[]) => U[];
}
