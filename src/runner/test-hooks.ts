/** Moved to src/testing/test-hooks.ts (test hooks live under src/testing); kept only so branches merged later still compile. */
export * from '../testing/test-hooks.ts';
