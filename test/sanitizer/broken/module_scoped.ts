declare module @scope/pkg {
  export const version: string;
}
