/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4), for tests: it
 * throws, naming the line, on anything a Prometheus server would reject or that breaks the
 * format's rules (npm has no maintained parser in our dependencies; prom-client only writes).
 *
 * Checked: metric and label name syntax, label value escapes, sample values (floats, NaN,
 * +Inf, -Inf), optional integer timestamps, at most one HELP and one TYPE per family and the
 * TYPE before its samples, each family's samples contiguous, sample names allowed by the
 * family's type (histogram: _bucket/_sum/_count; summary: quantiles/_sum/_count), no
 * duplicate series, and for histograms: an `le` on every bucket, cumulative counts, a +Inf
 * bucket equal to _count.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help: string | undefined;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const closed = new Set<string>();
  const series = new Set<string>();
  const typed = new Set<string>();
  let current: MetricFamily | undefined;
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const lines = text.split('\n');
  lines.pop();

  const family = (name: string, lineNo: number): MetricFamily => {
    let f = families.get(name);
    if (!f) {
      f = { name, type: 'untyped', help: undefined, samples: [] };
      families.set(name, f);
    }
    if (current && current !== f) closed.add(current.name);
    if (closed.has(name)) throw new Error(`line ${lineNo}: the samples of ${name} are not contiguous`);
    current = f;
    return f;
  };

  for (const [index, line] of lines.entries()) {
    const lineNo = index + 1;
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
      if (!m) continue; // a plain comment
      const [, keyword, name, rest = ''] = m;
      if (!METRIC_NAME.test(name!)) throw new Error(`line ${lineNo}: bad metric name ${JSON.stringify(name)}`);
      const f = family(name!, lineNo);
      if (keyword === 'HELP') {
        if (f.help !== undefined) throw new Error(`line ${lineNo}: second HELP for ${name}`);
        f.help = unescapeHelp(rest, lineNo);
      } else {
        if (!TYPES.has(rest)) throw new Error(`line ${lineNo}: unknown type ${JSON.stringify(rest)}`);
        if (f.samples.length) throw new Error(`line ${lineNo}: TYPE of ${name} after its samples`);
        if (typed.has(f.name)) throw new Error(`line ${lineNo}: second TYPE for ${name}`);
        f.type = rest as MetricFamily['type'];
        typed.add(f.name);
      }
      continue;
    }
    const sample = parseSample(line, lineNo);
    const f = family(familyOf(sample.name, families, current), lineNo);
    const allowed =
      f.type === 'histogram'
        ? [`${f.name}_bucket`, `${f.name}_sum`, `${f.name}_count`]
        : f.type === 'summary'
          ? [f.name, `${f.name}_sum`, `${f.name}_count`]
          : [f.name];
    if (!allowed.includes(sample.name)) throw new Error(`line ${lineNo}: sample ${sample.name} does not belong to ${f.type} ${f.name}`);
    if (f.type === 'histogram' && sample.name.endsWith('_bucket') && sample.labels.le === undefined) throw new Error(`line ${lineNo}: bucket without le`);
    if (f.type === 'counter' && !(sample.value >= 0)) throw new Error(`line ${lineNo}: counter ${sample.name} is ${sample.value}`);
    const key = `${sample.name}{${Object.entries(sample.labels).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`;
    if (series.has(key)) throw new Error(`line ${lineNo}: duplicate series ${key}`);
    series.add(key);
    f.samples.push(sample);
  }
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

/** The family a sample belongs to: the current one when its name derives from it, else its own name. */
function familyOf(name: string, families: Map<string, MetricFamily>, current: MetricFamily | undefined): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!name.endsWith(suffix)) continue;
    const base = name.slice(0, -suffix.length);
    const f = families.get(base);
    if (f && (f.type === 'histogram' || f.type === 'summary')) return base;
  }
  return current && current.name === name ? current.name : name;
}

function parseSample(line: string, lineNo: number): Sample {
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
  if (!nameMatch) throw new Error(`line ${lineNo}: no metric name in ${JSON.stringify(line)}`);
  const name = nameMatch[0];
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    while (line[i] !== '}') {
      const labelMatch = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i));
      if (!labelMatch || !LABEL_NAME.test(labelMatch[0])) throw new Error(`line ${lineNo}: bad label name at column ${i + 1}`);
      const label = labelMatch[0];
      i += label.length;
      if (line[i] !== '=' || line[i + 1] !== '"') throw new Error(`line ${lineNo}: expected =" after ${label}`);
      i += 2;
      let value = '';
      for (;;) {
        const c = line[i];
        if (c === undefined) throw new Error(`line ${lineNo}: unterminated value of ${label}`);
        if (c === '"') break;
        if (c === '\\') {
          const next = line[i + 1];
          if (next === '\\') value += '\\';
          else if (next === '"') value += '"';
          else if (next === 'n') value += '\n';
          else throw new Error(`line ${lineNo}: bad escape \\${next ?? ''} in ${label}`);
          i += 2;
          continue;
        }
        value += c;
        i++;
      }
      i++;
      if (label in labels) throw new Error(`line ${lineNo}: label ${label} twice`);
      labels[label] = value;
      if (line[i] === ',') i++;
      else if (line[i] !== '}') throw new Error(`line ${lineNo}: expected , or } at column ${i + 1}`);
    }
    i++;
  }
  const rest = line.slice(i);
  const m = /^ (\S+)(?: (-?\d+))?$/.exec(rest);
  if (!m) throw new Error(`line ${lineNo}: expected " <value> [timestamp]" after the labels, got ${JSON.stringify(rest)}`);
  return { name, labels, value: parseValue(m[1]!, lineNo) };
}

function parseValue(text: string, lineNo: number): number {
  // As Prometheus reads them (Go's ParseFloat): NaN and Inf in any case; prom-client writes `Nan`.
  if (/^nan$/i.test(text)) return NaN;
  if (/^\+?inf(inity)?$/i.test(text)) return Infinity;
  if (/^-inf(inity)?$/i.test(text)) return -Infinity;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`line ${lineNo}: bad value ${JSON.stringify(text)}`);
  return Number(text);
}

function unescapeHelp(text: string, lineNo: number): string {
  return text.replace(/\\(.?)/g, (_m, c: string) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    throw new Error(`line ${lineNo}: bad escape in HELP`);
  });
}

function checkHistogram(f: MetricFamily): void {
  const groups = new Map<string, { buckets: [number, number][]; count?: number }>();
  const keyOf = (labels: Record<string, string>) =>
    JSON.stringify(Object.entries(labels).filter(([k]) => k !== 'le').sort(([a], [b]) => (a < b ? -1 : 1)));
  for (const s of f.samples) {
    const key = keyOf(s.labels);
    const group = groups.get(key) ?? { buckets: [] };
    groups.set(key, group);
    if (s.name.endsWith('_bucket')) group.buckets.push([parseValue(s.labels.le!, 0), s.value]);
    if (s.name.endsWith('_count')) group.count = s.value;
  }
  for (const [key, group] of groups) {
    const sorted = [...group.buckets].sort(([a], [b]) => a - b);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i]![1] < sorted[i - 1]![1]) throw new Error(`${f.name}${key}: buckets are not cumulative`);
    }
    const inf = sorted.at(-1);
    if (!inf || inf[0] !== Infinity) throw new Error(`${f.name}${key}: no +Inf bucket`);
    if (group.count === undefined || group.count !== inf[1]) throw new Error(`${f.name}${key}: _count ${group.count} differs from the +Inf bucket ${inf[1]}`);
  }
}

/** The samples of a family whose labels include `labels`. */
export function samples(families: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): Sample[] {
  const familyName = name.replace(/_(bucket|sum|count)$/, '');
  const f = families.get(name) ?? families.get(familyName);
  if (!f) return [];
  return f.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The sum of the matching samples' values (0 when there are none). */
export function total(families: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): number {
  return samples(families, name, labels).reduce((sum, s) => sum + s.value, 0);
}
