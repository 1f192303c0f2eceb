/**
 * YAML rendering for `-o yaml`, in a module of its own so that `output.ts` can load it (and the
 * yaml package) only when asked: a static import lets the bundler resolve yaml's CommonJS
 * exports, which a bare `import('yaml')` of the package does not in the bundle.
 */
export { stringify } from 'yaml';
