// Types for fft.js (indutny/fft.js, radix-4 FFT for power-of-two sizes); the package ships none.
declare module 'fft.js' {
  type NumberArray = number[] | Float64Array | Float32Array;
  export default class FFT {
    constructor(size: number);
    readonly size: number;
    createComplexArray(): number[];
    toComplexArray(input: ArrayLike<number>, storage?: NumberArray): number[];
    fromComplexArray(complex: ArrayLike<number>, storage?: NumberArray): number[];
    completeSpectrum(spectrum: NumberArray): void;
    /** Complex forward FFT: `data` and `out` are interleaved [re, im, ...] of length 2*size. */
    transform(out: NumberArray, data: ArrayLike<number>): void;
    /** Real forward FFT: `data` has `size` reals; fills the left half of interleaved `out`. */
    realTransform(out: NumberArray, data: ArrayLike<number>): void;
    /** Complex inverse FFT, scaled by 1/size. */
    inverseTransform(out: NumberArray, data: ArrayLike<number>): void;
  }
}
