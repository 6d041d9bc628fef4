declare module `my-lib` {
  export function f(): void;
}
