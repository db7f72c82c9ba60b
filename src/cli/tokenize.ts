export async function tokenizeCommand(_a: string[]): Promise<void> { throw new Error("simdbert tokenize: not built yet"); }
