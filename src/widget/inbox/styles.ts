/**
 * The component's stylesheet, adopted by its shadow root (a constructed sheet, so a host page's
 * CSP without 'unsafe-inline' styles does not block it). Every color is a custom property the
 * host may override on the element; the defaults meet WCAG AA (4.5:1 for text) in both themes.
 */
export const STYLES = `
:host {
  --herald-font: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  --herald-bg: #ffffff;
  --herald-fg: #1f2328;
  --herald-muted: #57606a;
  --herald-border: #d0d7de;
  --herald-hover: #f3f5f7;
  --herald-unread-bg: #eef4ff;
  --herald-accent: #0b57d0;
  --herald-accent-fg: #ffffff;
  --herald-badge-bg: #b42318;
  --herald-badge-fg: #ffffff;
  --herald-banner-bg: #fff4ce;
  --herald-banner-fg: #5c3c00;
  --herald-error-fg: #a40e26;
  --herald-focus: #0b57d0;
  --herald-bell-fg: currentColor;
  --herald-radius: 10px;
  --herald-width: 380px;
  --herald-height: 480px;
  --herald-shadow: 0 8px 28px rgba(0, 0, 0, 0.18);
  position: relative;
  display: inline-block;
  font-family: var(--herald-font);
  line-height: 1.4;
}
:host([theme="dark"]) {
  --herald-bg: #1e2227;
  --herald-fg: #e6edf3;
  --herald-muted: #a3adb8;
  --herald-border: #3d444d;
  --herald-hover: #272c33;
  --herald-unread-bg: #1f2d3d;
  --herald-accent: #8ab4f8;
  --herald-accent-fg: #0b1a33;
  --herald-banner-bg: #3a2e05;
  --herald-banner-fg: #ffe08a;
  --herald-error-fg: #ff9a9a;
  --herald-focus: #8ab4f8;
  --herald-shadow: 0 8px 28px rgba(0, 0, 0, 0.6);
}
@media (prefers-color-scheme: dark) {
  :host(:not([theme="light"])) {
    --herald-bg: #1e2227;
    --herald-fg: #e6edf3;
    --herald-muted: #a3adb8;
    --herald-border: #3d444d;
    --herald-hover: #272c33;
    --herald-unread-bg: #1f2d3d;
    --herald-accent: #8ab4f8;
    --herald-accent-fg: #0b1a33;
    --herald-banner-bg: #3a2e05;
    --herald-banner-fg: #ffe08a;
    --herald-error-fg: #ff9a9a;
    --herald-focus: #8ab4f8;
    --herald-shadow: 0 8px 28px rgba(0, 0, 0, 0.6);
  }
}
*, *::before, *::after { box-sizing: border-box; }
[hidden] { display: none !important; }
button { font: inherit; color: inherit; }
:focus-visible { outline: 2px solid var(--herald-focus); outline-offset: 2px; }
.sr-only { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
.bell {
  position: relative; display: inline-flex; align-items: center; justify-content: center;
  width: 40px; height: 40px; padding: 0; border: 0; border-radius: 50%;
  background: transparent; color: var(--herald-bell-fg); cursor: pointer;
}
.bell:hover { background: var(--herald-hover); }
.bell svg { width: 24px; height: 24px; }
.badge {
  position: absolute; top: 2px; right: 0; min-width: 18px; height: 18px; padding: 0 5px;
  border-radius: 9px; background: var(--herald-badge-bg); color: var(--herald-badge-fg);
  font-size: 11px; font-weight: 700; line-height: 18px; text-align: center;
}
.panel {
  position: absolute; top: calc(100% + 8px); right: 0; z-index: 1000;
  width: min(var(--herald-width), calc(100vw - 16px)); height: min(var(--herald-height), calc(100vh - 80px));
  display: flex; flex-direction: column; overflow: hidden;
  background: var(--herald-bg); color: var(--herald-fg);
  border: 1px solid var(--herald-border); border-radius: var(--herald-radius); box-shadow: var(--herald-shadow);
  text-align: left;
}
:host([align="start"]) .panel { right: auto; left: 0; }
.head { display: flex; align-items: center; justify-content: space-between; gap: 8px; padding: 12px 14px 6px; }
.head h2 { margin: 0; font-size: 16px; font-weight: 650; }
.text-button {
  border: 0; background: none; padding: 4px 6px; border-radius: 6px; cursor: pointer;
  color: var(--herald-accent); font-size: 13px; font-weight: 600;
}
.text-button:hover:not(:disabled) { background: var(--herald-hover); }
.text-button:disabled { color: var(--herald-muted); cursor: default; }
.banner { margin: 0 14px 6px; padding: 6px 10px; border-radius: 6px; background: var(--herald-banner-bg); color: var(--herald-banner-fg); font-size: 13px; }
.tabs { display: flex; gap: 2px; padding: 0 10px; border-bottom: 1px solid var(--herald-border); overflow-x: auto; }
.tab {
  border: 0; background: none; padding: 8px 8px 7px; cursor: pointer; font-size: 13px;
  color: var(--herald-muted); border-bottom: 2px solid transparent; white-space: nowrap;
}
.tab[aria-selected="true"] { color: var(--herald-fg); border-bottom-color: var(--herald-accent); font-weight: 600; }
.feed { flex: 1; overflow-y: auto; overscroll-behavior: contain; }
.items { list-style: none; margin: 0; padding: 0; }
.item { display: flex; gap: 10px; padding: 10px 14px; border-bottom: 1px solid var(--herald-border); }
.item[data-read="false"] { background: var(--herald-unread-bg); }
.dot { flex: none; width: 8px; height: 8px; margin-top: 6px; border-radius: 50%; background: transparent; }
.item[data-read="false"] .dot { background: var(--herald-accent); }
.content { flex: 1; min-width: 0; }
.title { margin: 0; font-size: 14px; font-weight: 600; overflow-wrap: anywhere; }
.title a { color: inherit; text-decoration: underline; text-decoration-color: var(--herald-border); }
.body { margin: 2px 0 0; font-size: 13px; color: var(--herald-fg); overflow-wrap: anywhere; }
.meta { display: block; margin-top: 4px; font-size: 12px; color: var(--herald-muted); }
.actions { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 8px; }
.action {
  border: 1px solid var(--herald-accent); background: var(--herald-accent); color: var(--herald-accent-fg);
  border-radius: 6px; padding: 4px 10px; font-size: 13px; font-weight: 600; cursor: pointer;
}
.action.secondary { background: transparent; color: var(--herald-accent); }
.action:disabled { opacity: 1; background: transparent; color: var(--herald-muted); border-color: var(--herald-border); cursor: default; }
.tools { display: flex; flex-direction: column; gap: 2px; }
.icon-button {
  display: inline-flex; align-items: center; justify-content: center; width: 28px; height: 28px;
  padding: 0; border: 0; border-radius: 6px; background: transparent; color: var(--herald-muted); cursor: pointer;
}
.icon-button:hover:not(:disabled) { background: var(--herald-hover); color: var(--herald-fg); }
.icon-button svg { width: 16px; height: 16px; }
.state { margin: 0; padding: 32px 16px; text-align: center; color: var(--herald-muted); font-size: 14px; }
.state[data-kind="error"] { color: var(--herald-error-fg); }
.state .text-button { display: block; margin: 8px auto 0; }
.more { padding: 10px; text-align: center; font-size: 13px; color: var(--herald-muted); }
.toast { margin: 0 14px 6px; font-size: 13px; color: var(--herald-error-fg); }
@media (prefers-reduced-motion: no-preference) {
  .panel { animation: herald-in 120ms ease-out; }
  @keyframes herald-in { from { opacity: 0; transform: translateY(-4px); } to { opacity: 1; transform: none; } }
}
`;
