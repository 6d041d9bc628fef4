declare module my-lib {
  export const x: number;
}
