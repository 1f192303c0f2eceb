/** semver's `compare`, loaded on first call. */
export declare function compare(a: string, b: string): -1 | 0 | 1;
/** semver's `valid`, loaded on first call. */
export declare function valid(version: string): string | null;
