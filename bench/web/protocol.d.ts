/** One timing run of the in-page bench: a system, a net, a thread count (batch 1). */
export interface BenchJob {
    system: 'ours' | 'onnxruntime-web';
    model: 'caffenet' | 'mobilenet_v1_0.5_160';
    threads: number;
    /** Timed passes go on until this long and at least MIN_RUNS passes. */
    minSeconds: number;
}
/** What the page reports. */
export interface BenchResult {
    imagesPerSecond: number;
    runs: number;
    seconds: number;
    /** The probabilities of the one image (for the check that both compute the same function). */
    prob: number[];
    /** What the system says it ran with. */
    detail: string;
}
//# sourceMappingURL=protocol.d.ts.map