/** Types of build.mjs (plain JavaScript, so the root build can run it before anything is compiled). */
export declare const DEFAULT_OUT: string;
export declare function bundleForBrowser(entryPoints: Record<string, string>, outdir: string): Promise<void>;
export declare function bundleWeb(out?: string): Promise<void>;
