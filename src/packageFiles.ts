/**
 * Files of this package itself (package.json, schema/config.schema.json),
 * found from this module's URL. It sits at the top of src/ on purpose: built,
 * it is dist/packageFiles.js, at the same depth as the bundled command
 * dist/cliMain.cjs, whose import.meta.url is the bundle's own
 * (scripts/build-cli.mjs), so one relative path serves both.
 */
export function packageFileUrl(path: string): URL {
  return new URL(`../${path}`, import.meta.url);
}
