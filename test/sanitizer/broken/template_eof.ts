const name = "Ada";
export const greeting = `Hello ${name}, welcome