// Instances that are functions, as transformers.js' tokenizers and models are: `tokenizer(text)`
// runs `tokenizer.call(text)` and `await model(inputs)` runs `model.forward(inputs)`. The
// constructor returns a closure whose prototype is the class's, so `instanceof`, methods, getters
// and fields work as on any instance; the closure's own `name` and `length` are removed so that a
// class's members of those names (the tokenizer's `length`) are not hidden.

/** Base of classes whose instances can be called: the call runs the method `method`. */
export class Callable {
  constructor(method: string) {
    const fn = (...args: unknown[]): unknown =>
      (fn as unknown as Record<string, (...a: unknown[]) => unknown>)[method](...args);
    delete (fn as { name?: string }).name;
    delete (fn as { length?: number }).length;
    return Object.setPrototypeOf(fn, new.target.prototype);
  }
}
