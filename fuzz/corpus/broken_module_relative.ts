declare module ./utils {
  export function helper(): void;
}
