/**
 * React wrapper of <herald-inbox>: served at /widget/herald-inbox-react.js, it imports the
 * element from ./herald-inbox.js (next to it) and `react` from the host app's bundle.
 *
 *   import { HeraldInbox } from 'https://herald.example.com/widget/herald-inbox-react.js';
 *   <HeraldInbox token={token} categories={[{ value: 'billing', label: 'Billing' }]} onUnreadCountChange={setCount} />
 */
import { createElement, forwardRef, useEffect, useImperativeHandle, useRef, type CSSProperties, type ForwardedRef } from 'react';
import type { HeraldInboxElement } from './element.ts';
import './index.ts';

export interface HeraldInboxProps {
  /** userHash mode: the project id, the user's externalId and the hash your backend computed. */
  projectId?: string;
  userId?: string;
  userHash?: string;
  /** Token mode: a short-lived JWT your backend signed (it wins over the hash). */
  token?: string;
  /** Herald's origin; default: where herald-inbox.js was loaded from. */
  server?: string;
  theme?: 'light' | 'dark' | 'auto';
  locale?: string;
  /** Category tabs: "value:Label, …" or a list. */
  categories?: string | { value: string; label?: string }[];
  pageSize?: number;
  align?: 'start' | 'end';
  /** Each item gets a Delete button (deleteItems: for good, unlike archive). */
  deletable?: boolean;
  className?: string;
  style?: CSSProperties;
  onUnreadCountChange?: (count: number) => void;
  /** An action button was performed (`action` is the sender's action object). Call preventDefault() to stop its url being followed. */
  onAction?: (event: CustomEvent<{ item: unknown; action: Record<string, unknown> }>) => void;
  /** The token expired: hand a new one through the `token` prop. */
  onTokenExpired?: () => void;
  onStateChange?: (state: string) => void;
}

export interface HeraldInboxHandle {
  element: HeraldInboxElement | null;
  show(): void;
  hide(): void;
}

function categoriesAttribute(categories: HeraldInboxProps['categories']): string | undefined {
  if (categories === undefined || typeof categories === 'string') return categories;
  return categories.map((c) => (c.label ? `${c.value}:${c.label}` : c.value)).join(',');
}

export const HeraldInbox = forwardRef(function HeraldInbox(props: HeraldInboxProps, ref: ForwardedRef<HeraldInboxHandle>) {
  const element = useRef<HeraldInboxElement | null>(null);
  // The latest callbacks, so listeners are added once and never call a stale closure.
  const callbacks = useRef(props);
  callbacks.current = props;

  useImperativeHandle(ref, () => ({
    get element() {
      return element.current;
    },
    show: () => element.current?.show(),
    hide: () => element.current?.hide(),
  }));

  useEffect(() => {
    const node = element.current;
    if (!node) return;
    const listeners: [string, (event: Event) => void][] = [
      ['herald-unread-change', (e) => callbacks.current.onUnreadCountChange?.((e as CustomEvent<{ count: number }>).detail.count)],
      ['herald-action', (e) => callbacks.current.onAction?.(e as CustomEvent<{ item: unknown; action: Record<string, unknown> }>)],
      ['herald-token-expired', () => callbacks.current.onTokenExpired?.()],
      ['herald-state', (e) => callbacks.current.onStateChange?.((e as CustomEvent<{ state: string }>).detail.state)],
    ];
    for (const [name, listener] of listeners) node.addEventListener(name, listener);
    return () => {
      for (const [name, listener] of listeners) node.removeEventListener(name, listener);
    };
  }, []);

  return createElement('herald-inbox', {
    ref: element,
    className: props.className,
    style: props.style,
    'project-id': props.projectId,
    'user-id': props.userId,
    'user-hash': props.userHash,
    token: props.token,
    server: props.server,
    theme: props.theme === 'auto' ? undefined : props.theme,
    locale: props.locale,
    categories: categoriesAttribute(props.categories),
    'page-size': props.pageSize === undefined ? undefined : String(props.pageSize),
    align: props.align,
    // A boolean attribute: present or absent.
    deletable: props.deletable ? '' : undefined,
  });
});
