/**
 * Importing JS/TS migration files (issue 6): jiti, as node-pg-migrate does
 * (same resolution, CommonJS interop, module cache, native import of ES
 * modules it need not compile), but TypeScript is compiled with sucrase
 * instead of jiti's Babel. With Babel, 1,000 pending migrations peaked at
 * ~180 MiB, most of it the compiler's garbage; sucrase keeps no AST and
 * needs a fraction of that (bench/RESULTS.md, "Memory").
 *
 * jiti evaluates compiled code inside
 * `async function (exports, require, module, __filename, __dirname, jitiImport, jitiESMResolve)`
 * and expects what its Babel plugins produce: CommonJS whose static imports
 * are `await jitiImport(…)` (so ES-only packages such as node-pg-migrate
 * load natively, one instance), `import()` as `jitiImport()`, and
 * `import.meta` rewritten. sucrase turns imports into `require()`, so:
 *
 *   1. sucrase strips the types, keeping import/export (`typescript`);
 *   2. es-module-lexer finds the imports: static specifiers become
 *      placeholders that the prelude fills with `await jitiImport(…)`,
 *      `import(` becomes `jitiImport(`, `import.meta` a local object;
 *   3. sucrase turns import/export into CommonJS (`imports`);
 *   4. the module body runs in an inner function, so its own top-level
 *      `__dirname`, `require`, … (common in ES modules) do not clash with
 *      jiti's parameters (Babel renames them instead).
 *
 * Line numbers are kept (sucrase keeps them; the prelude is on line 1).
 * What sucrase cannot parse or does not compile (decorators, namespaces
 * with values, `accessor`, `using`) goes to jiti's own Babel transform, so
 * such files, and syntax errors, behave exactly as under node-pg-migrate.
 *
 * Everything here is imported on first use: a no-op start loads none of it.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { Jiti, TransformOptions, TransformResult } from 'jiti';
import { importPackage } from './importPackage.js';

type Sucrase = typeof import('sucrase');
type Lexer = typeof import('es-module-lexer');

let loader: Promise<Jiti> | undefined;

/** Imports a migration file as node-pg-migrate's jiti would (interop-default proxy of its exports). */
export async function importMigration(path: string): Promise<unknown> {
  loader ??= createLoader();
  return (await loader).import(path);
}

async function createLoader(): Promise<Jiti> {
  const [{ createJiti }, sucrase, lexer] = await Promise.all([
    importPackage<typeof import('jiti')>('jiti'),
    importPackage<Sucrase>('sucrase'),
    importPackage<Lexer>('es-module-lexer'),
  ]);
  await lexer.init();
  return createJiti(process.cwd(), {
    // Compiling is cheap now; no cache files to write (a read-only container) or to share with Babel's.
    fsCache: false,
    transform: (options) => transformForJiti(options, sucrase, lexer),
  });
}

/**
 * Syntax sucrase drops (namespaces and internal modules with values) or
 * passes through where Node 20 cannot run it (decorators, `accessor`,
 * `using`): such files go to Babel, which compiles them or, for `accessor`,
 * fails as under node-pg-migrate. Anchored at a line start, where these
 * declarations begin, so JSDoc tags and SQL operators do not match; a false
 * positive only costs Babel's time.
 */
const NEEDS_BABEL =
  /^[ \t]*(?:@[\w$]|(?:export[ \t]+)?(?:namespace|module)[ \t]+[\w$.]+\s*\{|(?:(?:static|public|private|protected|readonly|override)[ \t]+)*accessor[ \t]+[\w$#[]|(?:await[ \t]+)?using[ \t]+[\w$]+[ \t]*=)/m;

/** jiti's `transform` hook: see the top of this file. */
export function transformForJiti(options: TransformOptions, sucrase: Sucrase, lexer: Lexer): TransformResult {
  const { source, filename = '', ts = false, async = false } = options;
  if (options.jsx || (ts && NEEDS_BABEL.test(source))) return babelTransform(options);
  try {
    const esm = ts
      ? sucrase.transform(source, { transforms: ['typescript'], disableESTransforms: true, filePath: filename }).code
      : source;
    return { code: toJitiModule(esm, filename, async, sucrase, lexer) };
  } catch {
    // Syntax sucrase or the lexer does not know, or a syntax error: Babel compiles it or says where it is wrong.
    return babelTransform(options);
  }
}

function toJitiModule(esm: string, filename: string, async: boolean, sucrase: Sucrase, lexer: Lexer): string {
  const [imports, , , hasModuleSyntax] = lexer.parse(esm, filename);
  const tag = `__jiti_${Math.random().toString(36).slice(2, 10)}_`;
  const preloaded: string[] = [];
  let code = '';
  let at = 0;
  for (const entry of [...imports].sort((a, b) => a.start - b.start)) {
    if (entry.type === 'static' || entry.type === 'reexport-star') {
      if (!async) continue; // a synchronous require(): imports stay require() calls, as Babel makes them
      code += `${esm.slice(at, entry.start)}${tag}${preloaded.length}`;
      preloaded.push(entry.specifier);
      at = entry.end;
    } else if (entry.type === 'dynamic') {
      code += `${esm.slice(at, entry.importStart)}jitiImport`;
      at = entry.importStart + 'import'.length;
    } else if (entry.type === 'import-meta') {
      code += `${esm.slice(at, entry.start)}${tag}meta`;
      at = entry.end;
    }
  }
  code += esm.slice(at);
  // A script (CommonJS TypeScript) stays as it is, not made strict, as Babel leaves it.
  let body = hasModuleSyntax
    ? sucrase.transform(code, { transforms: ['imports'], disableESTransforms: true, filePath: filename }).code
    : code;
  // Each placeholder import became require('<tag>N'): the module the prelude imported.
  body = body.replace(new RegExp(`require\\((['"])${tag}(\\d+)\\1\\)`, 'g'), (_, _quote, n: string) => `${tag}imports[${n}]`);
  const meta =
    `const ${tag}meta = { url: ${JSON.stringify(pathToFileURL(filename).href)}, filename: __filename, ` +
    `dirname: __dirname, env: process.env, resolve: (id) => jitiESMResolve(id) };`;
  const prelude = async
    ? `${meta}const ${tag}imports = [${preloaded.map((s) => `await jitiImport(${JSON.stringify(s)})`).join(', ')}];`
    : meta;
  return `${prelude}${async ? 'await (async ' : '('}() => {${body}\n})();`;
}

let babel: ((options: TransformOptions) => TransformResult) | undefined;

/** jiti's default transform (what node-pg-migrate's jiti uses), loaded only when needed. */
function babelTransform(options: TransformOptions): TransformResult {
  if (!babel) {
    // Where jiti itself loads it from: beside its entry points (jiti/lib/jiti.mjs).
    const jitiEntry = createRequire(import.meta.url).resolve('jiti');
    babel = createRequire(jitiEntry)('../dist/babel.cjs') as (options: TransformOptions) => TransformResult;
  }
  return babel(options);
}
