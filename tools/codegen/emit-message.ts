// Emits one TypeScript module per Kafka message definition: an interface per struct, and
// read/write/default functions that take the version as a parameter and branch on it, as
// Kafka's own generated Java classes do. Conditions are simplified against the message's
// valid versions only, so they are correct whichever field a struct is reached through.
import { contains, type FieldSpec, type FieldType, fmt, intersect, isEmpty, type MessageSpec, type StructSpec, subtract, type Versions } from './spec.ts';

export function moduleFileName(spec: MessageSpec): string {
  return `${spec.name
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1-$2')
    .toLowerCase()}.ts`;
}

export function propName(fieldName: string): string {
  return fieldName[0].toLowerCase() + fieldName.slice(1);
}

class Emitter {
  private out: string[] = [];
  private depth = 0;
  line(s = ''): void {
    this.out.push(s === '' ? '' : '  '.repeat(this.depth) + s);
  }
  indent(): void {
    this.depth++;
  }
  dedent(): void {
    this.depth--;
  }
  text(): string {
    return `${this.out.join('\n')}\n`;
  }
}

export class MessageEmitter {
  private readonly spec: MessageSpec;
  private readonly e = new Emitter();
  private readonly needIsDefault = new Set<string>();
  private readonly arrayHelpers = new Map<string, FieldType>();
  private readonly kafkaVersion: string;

  constructor(spec: MessageSpec, kafkaVersion: string) {
    this.spec = spec;
    this.kafkaVersion = kafkaVersion;
  }

  /** TypeScript name of a struct type of this message. */
  typeName(structName: string): string {
    return structName.startsWith(this.spec.name) ? structName : this.spec.name + structName;
  }

  private struct(name: string): StructSpec {
    const s = this.spec.structs.get(name);
    if (s === undefined) throw new Error(`${this.spec.sourceFile}: unknown struct type ${name}`);
    return s;
  }

  /** A boolean TS expression (over `v`) for "v is in range", simplified against the valid versions. */
  cond(range: Versions): string {
    const within = this.spec.validVersions;
    const r = intersect(range, within);
    if (isEmpty(r)) return 'false';
    if (contains(r, within)) return 'true';
    const parts: string[] = [];
    if (r.lo > within.lo) parts.push(`v >= ${r.lo}`);
    if (r.hi < within.hi) parts.push(`v <= ${r.hi}`);
    return parts.join(' && ');
  }

  private fieldFlex(f: FieldSpec): string {
    return this.cond(f.flexibleVersions ?? this.spec.flexibleVersions);
  }

  // ---- types and defaults ----

  tsType(t: FieldType): string {
    switch (t.kind) {
      case 'array': {
        const el = this.tsType(t.element);
        return el.includes(' ') ? `Array<${el}>` : `${el}[]`;
      }
      case 'struct':
        return this.typeName(t.name);
      case 'primitive':
        switch (t.name) {
          case 'bool':
            return 'boolean';
          case 'int64':
            return 'bigint';
          case 'string':
          case 'uuid':
            return 'string';
          case 'bytes':
            return 'Uint8Array';
          case 'records':
            return 'Uint8Array | null';
          default:
            return 'number';
        }
    }
  }

  private fieldCanBeNull(f: FieldSpec): boolean {
    return !isEmpty(intersect(f.nullableVersions, f.versions)) || f.default === 'null' || (f.type.kind === 'primitive' && f.type.name === 'records');
  }

  fieldTsType(f: FieldSpec): string {
    const t = this.tsType(f.type);
    if (t.endsWith('| null')) return t;
    return this.fieldCanBeNull(f) ? `${t} | null` : t;
  }

  defaultExpr(f: FieldSpec): string {
    const d = f.default;
    const t = f.type;
    if (t.kind === 'array') return d === 'null' ? 'null' : '[]';
    if (t.kind === 'struct') {
      return d === 'null' ? 'null' : `default${this.typeName(t.name)}()`;
    }
    switch (t.name) {
      case 'bool':
        return d.toLowerCase() === 'true' ? 'true' : 'false';
      case 'int8':
      case 'int16':
      case 'uint16':
      case 'int32':
      case 'uint32':
        return d === '' ? '0' : String(Number(d));
      case 'int64':
        return d === '' ? '0n' : `${BigInt(d)}n`;
      case 'float64':
        return d === '' ? '0' : String(Number(d));
      case 'string':
        return d === 'null' ? 'null' : JSON.stringify(d);
      case 'uuid':
        return d === '' ? 'ZERO_UUID' : JSON.stringify(d);
      case 'bytes':
        return d === 'null' ? 'null' : 'EMPTY_BYTES';
      case 'records':
        return 'null';
    }
  }

  /** Expression that is true when `a` (the field's value) differs from the field's default. */
  nonDefaultExpr(f: FieldSpec, a: string, nullableVersions: Versions): string {
    const def = this.defaultExpr(f);
    const t = f.type;
    const nullable = !isEmpty(nullableVersions) || this.fieldCanBeNull(f);
    if (t.kind === 'array' || (t.kind === 'primitive' && t.name === 'bytes')) {
      if (def === 'null') return `${a} !== null`;
      return nullable ? `(${a} === null || ${a}.length !== 0)` : `${a}.length !== 0`;
    }
    if (t.kind === 'struct') {
      if (def === 'null') return `${a} !== null`;
      this.needIsDefault.add(t.name);
      return nullable ? `(${a} === null || !isDefault${this.typeName(t.name)}(${a}))` : `!isDefault${this.typeName(t.name)}(${a})`;
    }
    if (t.name === 'records') return `${a} !== null`;
    return `${a} !== ${def}`;
  }

  // ---- reading ----

  private arrayHelperName(el: FieldType, dir: 'read' | 'write'): string {
    const key = el.kind === 'array' ? `arr_${this.arrayHelperKey(el.element)}` : this.arrayHelperKey(el);
    this.arrayHelpers.set(key, el);
    return `${dir}ArrayOf${key}`;
  }

  private arrayHelperKey(el: FieldType): string {
    if (el.kind === 'struct') return this.typeName(el.name);
    if (el.kind === 'primitive') return el.name[0].toUpperCase() + el.name.slice(1);
    return `Arr${this.arrayHelperKey(el.element)}`;
  }

  /** Expression reading one value of type `t`; `compact` and `nullable` are TS boolean expressions. */
  readExpr(t: FieldType, compact: string, nullable: string, tagged: boolean): string {
    if (t.kind === 'array') {
      return `${this.arrayHelperName(t.element, 'read')}(r, v, ${compact}, ${nullable})`;
    }
    if (t.kind === 'struct') {
      const call = `read${this.typeName(t.name)}(r, v)`;
      if (nullable === 'false') return call;
      const isNull = tagged ? 'r.uvarint() === 0' : 'r.int8() < 0';
      if (nullable === 'true') return `(${isNull} ? null : ${call})`;
      return `((${nullable}) && ${isNull} ? null : ${call})`;
    }
    switch (t.name) {
      case 'string':
      case 'bytes': {
        const nn = `r.${t.name}(${compact})`;
        const n = `r.nullable${t.name === 'string' ? 'String' : 'Bytes'}(${compact})`;
        if (nullable === 'false') return nn;
        if (nullable === 'true') return n;
        return `((${nullable}) ? ${n} : ${nn})`;
      }
      case 'records':
        return `r.records(${compact})`;
      default:
        return `r.${t.name}()`;
    }
  }

  /** Read expression for a field; arrays of never-null fields are asserted non-null (the reader rejects null). */
  private fieldRead(f: FieldSpec, compact: string, tagged: boolean): string {
    const x = this.readExpr(f.type, compact, this.cond(f.nullableVersions), tagged);
    return f.type.kind === 'array' && !this.fieldCanBeNull(f) ? `${x}!` : x;
  }

  // ---- writing ----

  /** Statements writing value `a` of type `t`. */
  writeStmts(t: FieldType, a: string, compact: string, nullable: string, tagged: boolean, fieldName: string): string[] {
    if (t.kind === 'array') {
      return [`${this.arrayHelperName(t.element, 'write')}(w, v, ${compact}, ${nullable}, ${a}, ${JSON.stringify(fieldName)});`];
    }
    if (t.kind === 'struct') {
      const call = `write${this.typeName(t.name)}(w, v, ${a}`;
      if (nullable === 'false') return [`${call}!);`];
      const nullMark = tagged ? 'w.uvarint(0);' : 'w.int8(-1);';
      const presentMark = tagged ? 'w.uvarint(1);' : 'w.int8(1);';
      if (nullable === 'true') return [`if (${a} === null) ${nullMark} else { ${presentMark} ${call}); }`];
      return [`if (${nullable}) { if (${a} === null) ${nullMark} else { ${presentMark} ${call}); } }`, `else ${call}!);`];
    }
    switch (t.name) {
      case 'string':
      case 'bytes': {
        const N = t.name === 'string' ? 'String' : 'Bytes';
        const nn = `w.${t.name}(notNull(${a}, ${JSON.stringify(fieldName)}, v), ${compact});`;
        if (nullable === 'true') return [`w.nullable${N}(${a}, ${compact});`];
        if (nullable === 'false') return [nn];
        return [`if (${nullable}) w.nullable${N}(${a}, ${compact}); else ${nn}`];
      }
      case 'records':
        return [`w.records(${a}, ${compact});`];
      default:
        return [`w.${t.name}(${a});`];
    }
  }

  // ---- structs ----

  private taggedFieldsOf(s: { fields: FieldSpec[] }): FieldSpec[] {
    return s.fields
      .filter((f) => f.tag !== undefined && !isEmpty(intersect(f.taggedVersions, f.versions)))
      .sort((a, b) => (a.tag as number) - (b.tag as number));
  }

  emitStruct(typeName: string, fields: FieldSpec[]): void {
    const e = this.e;
    const msgFlex = this.cond(this.spec.flexibleVersions);
    const tagged = this.taggedFieldsOf({ fields });

    // interface
    e.line(`export interface ${typeName} {`);
    e.indent();
    for (const f of fields) {
      const tag = f.tag !== undefined ? `, tag ${f.tag} in ${fmt(f.taggedVersions)}` : '';
      const nul = isEmpty(f.nullableVersions) ? '' : `, nullable in ${fmt(f.nullableVersions)}`;
      const about = f.about.replace(/\*\//g, '* /');
      e.line(`/** ${about} (versions ${fmt(f.versions)}${nul}${tag}) */`);
      e.line(`${propName(f.name)}: ${this.fieldTsType(f)};`);
    }
    e.line('/** Tagged fields this codec does not know, kept byte for byte. */');
    e.line('_unknownTaggedFields?: RawTaggedField[];');
    e.dedent();
    e.line('}');
    e.line();

    // default
    e.line(`export function default${typeName}(): ${typeName} {`);
    e.indent();
    e.line('return {');
    e.indent();
    for (const f of fields) e.line(`${propName(f.name)}: ${this.defaultExpr(f)},`);
    e.line('_unknownTaggedFields: undefined,');
    e.dedent();
    e.line('};');
    e.dedent();
    e.line('}');
    e.line();

    // read
    e.line(`export function read${typeName}(r: Reader, v: number): ${typeName} {`);
    e.indent();
    e.line(`const o: ${typeName} = {`);
    e.indent();
    for (const f of fields) {
      const inline = this.cond(subtract(f.versions, f.taggedVersions));
      const read = this.fieldRead(f, this.fieldFlex(f), false);
      const p = propName(f.name);
      if (inline === 'true') e.line(`${p}: ${read},`);
      else if (inline === 'false') e.line(`${p}: ${this.defaultExpr(f)},`);
      else e.line(`${p}: ${inline} ? ${read} : ${this.defaultExpr(f)},`);
    }
    e.line('_unknownTaggedFields: undefined,');
    e.dedent();
    e.line('};');
    if (msgFlex !== 'false') {
      e.line(`if (${msgFlex}) {`);
      e.indent();
      e.line('const n = r.taggedFieldCount();');
      e.line('for (let i = 0; i < n; i++) {');
      e.indent();
      e.line('const tag = r.uvarint();');
      e.line('const end = r.taggedFieldEnd();');
      if (tagged.length > 0) {
        e.line('switch (tag) {');
        e.indent();
        for (const f of tagged) {
          const c = this.cond(intersect(f.taggedVersions, f.versions));
          e.line(`case ${f.tag}:`);
          e.indent();
          e.line(`if (${c}) {`);
          e.indent();
          e.line(`o.${propName(f.name)} = ${this.fieldRead(f, 'true', true)};`);
          e.line(`r.checkTaggedFieldEnd(end, tag);`);
          e.line('continue;');
          e.dedent();
          e.line('}');
          e.line('break;');
          e.dedent();
        }
        e.dedent();
        e.line('}');
      }
      e.line('(o._unknownTaggedFields ??= []).push({ tag, data: r.raw(end - r.pos) });');
      e.dedent();
      e.line('}');
      e.dedent();
      e.line('}');
    }
    e.line('return o;');
    e.dedent();
    e.line('}');
    e.line();

    // write
    e.line(`export function write${typeName}(w: Writer, v: number, o: ${typeName}): void {`);
    e.indent();
    for (const f of fields) {
      const p = `o.${propName(f.name)}`;
      const inline = this.cond(subtract(f.versions, f.taggedVersions));
      const present = this.cond(f.versions);
      const stmts = this.writeStmts(f.type, p, this.fieldFlex(f), this.cond(f.nullableVersions), false, f.name);
      if (inline !== 'false') {
        if (inline === 'true') for (const s of stmts) e.line(s);
        else {
          e.line(`if (${inline}) {`);
          e.indent();
          for (const s of stmts) e.line(s);
          e.dedent();
          e.line('}');
        }
      }
      if (!f.ignorable && present !== 'true') {
        const check = `${this.nonDefaultExpr(f, p, f.nullableVersions)}`;
        const absent = present === 'false' ? 'true' : `!(${present})`;
        e.line(`if (${absent} && ${check}) throw fieldNotInVersion(${JSON.stringify(typeName)}, ${JSON.stringify(f.name)}, v);`);
      }
    }
    if (msgFlex !== 'false') {
      e.line(`if (${msgFlex}) {`);
      e.indent();
      e.line('const u = o._unknownTaggedFields;');
      const names: string[] = [];
      tagged.forEach((f, i) => {
        const c = this.cond(intersect(f.taggedVersions, f.versions));
        const p = `o.${propName(f.name)}`;
        e.line(`const t${i} = ${c} && ${this.nonDefaultExpr(f, p, f.nullableVersions)};`);
        names.push(`(t${i} ? 1 : 0)`);
      });
      e.line(`w.uvarint((u === undefined ? 0 : u.length)${names.map((n) => ` + ${n}`).join('')});`);
      if (tagged.length === 0) {
        e.line('w.rawTags(u, 0, Infinity);');
      } else {
        e.line('let ui = 0;');
        tagged.forEach((f, i) => {
          e.line(`ui = w.rawTags(u, ui, ${f.tag});`);
          const p = `o.${propName(f.name)}`;
          const stmts = this.writeStmts(f.type, p, 'true', this.cond(f.nullableVersions), true, f.name);
          e.line(`if (t${i}) w.tagged(${f.tag}, (w) => { ${stmts.join(' ')} });`);
        });
        e.line('w.rawTags(u, ui, Infinity);');
      }
      e.dedent();
      e.line('}');
    }
    e.dedent();
    e.line('}');
    e.line();
  }

  private emitIsDefault(): void {
    const done = new Set<string>();
    let pending = [...this.needIsDefault];
    while (pending.length > 0) {
      for (const name of pending) {
        if (done.has(name)) continue;
        done.add(name);
        const s = this.struct(name);
        const tn = this.typeName(name);
        const checks = s.fields.map((f) => `!(${this.nonDefaultExpr(f, `o.${propName(f.name)}`, f.nullableVersions)})`);
        checks.push('(o._unknownTaggedFields === undefined || o._unknownTaggedFields.length === 0)');
        this.e.line(`function isDefault${tn}(o: ${tn}): boolean {`);
        this.e.indent();
        this.e.line(`return ${checks.join(' &&\n    ')};`);
        this.e.dedent();
        this.e.line('}');
        this.e.line();
      }
      pending = [...this.needIsDefault].filter((n) => !done.has(n));
    }
  }

  private emitArrayHelpers(): void {
    const e = this.e;
    const done = new Set<string>();
    let pending = [...this.arrayHelpers.entries()];
    while (pending.length > 0) {
      for (const [key, el] of pending) {
        if (done.has(key)) continue;
        done.add(key);
        const t = this.tsType(el);
        const elType = t.includes(' ') ? `(${t})` : t;
        e.line(`function readArrayOf${key}(r: Reader, v: number, compact: boolean, nullable: boolean): ${elType}[] | null {`);
        e.indent();
        e.line('const n = r.arrayLength(compact, nullable);');
        e.line('if (n < 0) return null;');
        e.line(`const a: ${elType}[] = [];`);
        e.line(`for (let i = 0; i < n; i++) a.push(${this.readExpr(el, 'compact', 'false', false)});`);
        e.line('return a;');
        e.dedent();
        e.line('}');
        e.line();
        e.line(`function writeArrayOf${key}(w: Writer, v: number, compact: boolean, nullable: boolean, a: ${elType}[] | null, field: string): void {`);
        e.indent();
        e.line('if (a === null) {');
        e.indent();
        e.line('if (!nullable) throw fieldNull(field, v);');
        e.line('w.arrayLength(-1, compact);');
        e.line('return;');
        e.dedent();
        e.line('}');
        e.line('w.arrayLength(a.length, compact);');
        e.line(`for (const x of a) { ${this.writeStmts(el, 'x', 'compact', 'false', false, 'element').join(' ')} }`);
        e.dedent();
        e.line('}');
        e.line();
      }
      pending = [...this.arrayHelpers.entries()].filter(([k]) => !done.has(k));
    }
  }

  generate(): string {
    const s = this.spec;
    const e = this.e;
    e.line(`// Generated by tools/codegen from Apache Kafka ${this.kafkaVersion}, kafka-clients common/message/${s.sourceFile}.`);
    e.line('// Do not edit: change the generator and run `npm run generate`.');
    e.line(
      `// ${s.name}: ${s.type}${s.apiKey !== undefined ? `, api key ${s.apiKey}` : ''}, valid versions ${fmt(s.validVersions)}, flexible versions ${fmt(s.flexibleVersions)}.`,
    );
    e.line('/* eslint-disable */');
    e.line("import { type Reader, type RawTaggedField, ZERO_UUID, EMPTY_BYTES } from '../../reader.ts';");
    e.line("import type { Writer } from '../../writer.ts';");
    e.line("import { fieldNotInVersion, fieldNull, notNull } from '../../codec-support.ts';");
    e.line();
    this.emitStruct(s.name, s.fields);
    for (const name of s.structOrder) this.emitStruct(this.typeName(name), this.struct(name).fields);
    this.emitIsDefault();
    this.emitArrayHelpers();
    return e.text().replace(/\n+$/, '\n');
  }
}
