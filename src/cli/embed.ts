export async function embedCommand(_a: string[]): Promise<void> { throw new Error("simdbert embed: not built yet"); }
