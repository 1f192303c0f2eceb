/** Moved to src/testing/fixtures.ts (test fixtures live under src/testing); kept only so branches merged later still compile. */
export * from '../testing/fixtures.ts';
