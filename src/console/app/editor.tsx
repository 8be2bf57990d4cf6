/** @jsxImportSource preact */
import { liquid } from '@codemirror/lang-liquid';
import { lintGutter, setDiagnostics } from '@codemirror/lint';
import { EditorView, lineNumbers } from '@codemirror/view';
import { minimalSetup } from 'codemirror';
import { useEffect, useRef } from 'preact/hooks';

export interface TemplateDiagnostic {
  line: number;
  column: number;
  message: string;
}

function styleNonce(): string {
  return document.querySelector<HTMLMetaElement>('meta[name="herald-style-nonce"]')?.content ?? '';
}

/**
 * A Liquid template in CodeMirror 6. The editor is uncontrolled (remount it with a new `key` to
 * load another text); `diagnostic` marks Herald's syntax error at its line and column. Tab is
 * not captured (no indentWithTab), so keyboard users leave the editor with Tab as usual.
 */
export function TemplateEditor({
  id,
  labelId,
  value,
  onChange,
  diagnostic,
}: {
  id: string;
  labelId: string;
  value: string;
  onChange: (text: string) => void;
  diagnostic: TemplateDiagnostic | null;
}) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const change = useRef(onChange);
  change.current = onChange;
  useEffect(() => {
    const editor = new EditorView({
      parent: host.current!,
      doc: value,
      extensions: [
        minimalSetup,
        lineNumbers(),
        liquid(),
        lintGutter(),
        EditorView.lineWrapping,
        // CodeMirror injects its base theme as a <style> element: the page's CSP admits it by this
        // per-response nonce (use-console.ts), not by 'unsafe-inline'.
        EditorView.cspNonce.of(styleNonce()),
        EditorView.contentAttributes.of({ 'aria-labelledby': labelId, 'data-testid': `editor-${id}-input` }),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) change.current(update.state.doc.toString());
        }),
      ],
    });
    view.current = editor;
    return () => {
      editor.destroy();
      view.current = null;
    };
  }, []);
  useEffect(() => {
    const editor = view.current;
    if (!editor) return;
    const doc = editor.state.doc;
    const diagnostics = [];
    if (diagnostic) {
      const line = doc.line(Math.min(Math.max(diagnostic.line, 1), doc.lines));
      const from = line.from + Math.min(Math.max(diagnostic.column - 1, 0), line.length);
      diagnostics.push({ from, to: Math.max(from, line.to), severity: 'error' as const, message: diagnostic.message });
    }
    editor.dispatch(setDiagnostics(editor.state, diagnostics));
  }, [diagnostic?.line, diagnostic?.column, diagnostic?.message]);
  return <div ref={host} class={`editor${diagnostic ? ' has-error' : ''}`} data-testid={`editor-${id}`} data-error-line={diagnostic ? String(diagnostic.line) : undefined} />;
}
