/**
 * tar-stream, loaded by tar.ts and container-files.ts with the first archive they make or read
 * rather than with the runner (tar-stream and streamx under it cost every upgrade a few ms of
 * CPU, most of which touch no archive). A module of its own so that the bundler resolves the
 * package's CommonJS exports for the dynamic import.
 */
export { extract, pack } from 'tar-stream';
