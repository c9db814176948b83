#!/usr/bin/env node
/**
 * Lists the circles in the import graph of src/ (or the folders given):
 * every group of modules that reach each other through imports, with the
 * imports inside the group. `node scripts/import-cycles.mjs [--check] [dir…]`;
 * with --check, exits 1 when there is a circle.
 *
 * Why: a circle means neither module can be read, tested or moved without the
 * other, and an ESM circle evaluates one side before the other has run its
 * top level (a `const` read during that time throws). The layering the README
 * describes under "Layout" only runs one way.
 *
 * Counted: static `import` / `export … from` (type-only ones too, marked
 * "type": they are still a dependency a reader follows) and `import('…')`
 * (marked "dynamic"). Only relative specifiers; `./x.js` resolves to `x.ts`.
 * Parsed with the TypeScript compiler the project already builds with.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const args = process.argv.slice(2);
const check = args.includes('--check');
const roots = args.filter((a) => !a.startsWith('--'));
const root = process.cwd();
const dirs = (roots.length ? roots : ['src']).map((d) => resolve(root, d));

const files = dirs.flatMap((d) => walk(d)).sort();
const known = new Set(files);
/** @type {Map<string, {to: string, kind: 'value' | 'type' | 'dynamic'}[]>} */
const graph = new Map(files.map((f) => [f, importsOf(f).filter((e) => known.has(e.to))]));

const circles = stronglyConnected(graph).filter((group) => group.length > 1 || graph.get(group[0]).some((e) => e.to === group[0]));
if (!circles.length) {
  console.log(`no circles among ${files.length} modules`);
} else {
  for (const [i, group] of circles.entries()) {
    const members = new Set(group);
    console.log(`circle ${i + 1}: ${group.length} modules`);
    for (const from of group.sort()) {
      for (const edge of graph.get(from).filter((e) => members.has(e.to))) {
        console.log(`  ${name(from)} -> ${name(edge.to)}${edge.kind === 'value' ? '' : ` (${edge.kind})`}`);
      }
    }
  }
}
if (check && circles.length) process.exitCode = 1;

function walk(dir) {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return walk(path);
    return /\.(m|c)?tsx?$/.test(entry) && !entry.endsWith('.d.ts') ? [path] : [];
  });
}

function importsOf(file) {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const edges = [];
  const add = (specifier, kind) => {
    if (!specifier.startsWith('.')) return;
    const to = resolve(dirname(file), specifier).replace(/\.(m|c)?js$/, (ext) => ext.replace('js', 'ts'));
    edges.push({ to, kind });
  };
  const visit = (node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier.text, isTypeOnly(node) ? 'type' : 'value');
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
      add(node.arguments[0].text, 'dynamic');
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return edges;
}

/** `import type …`, or every named import / export marked `type`. */
function isTypeOnly(node) {
  if (ts.isExportDeclaration(node)) {
    if (node.isTypeOnly) return true;
    const elements = node.exportClause && ts.isNamedExports(node.exportClause) ? node.exportClause.elements : undefined;
    return Boolean(elements?.length && elements.every((e) => e.isTypeOnly));
  }
  const clause = node.importClause;
  if (!clause) return false;
  if (clause.isTypeOnly) return true;
  if (clause.name) return false;
  const bindings = clause.namedBindings;
  return Boolean(bindings && ts.isNamedImports(bindings) && bindings.elements.length && bindings.elements.every((e) => e.isTypeOnly));
}

/** Tarjan's strongly connected components. */
function stronglyConnected(g) {
  let index = 0;
  const indices = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const groups = [];
  const connect = (v) => {
    indices.set(v, index);
    low.set(v, index);
    index += 1;
    stack.push(v);
    onStack.add(v);
    for (const { to } of g.get(v)) {
      if (!indices.has(to)) {
        connect(to);
        low.set(v, Math.min(low.get(v), low.get(to)));
      } else if (onStack.has(to)) {
        low.set(v, Math.min(low.get(v), indices.get(to)));
      }
    }
    if (low.get(v) === indices.get(v)) {
      const group = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      groups.push(group);
    }
  };
  for (const v of g.keys()) if (!indices.has(v)) connect(v);
  return groups;
}

function name(file) {
  return relative(root, file);
}
