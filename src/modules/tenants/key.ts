import { z } from 'zod';

/**
 * A tenant key: the client's own id for the tenant. Restricted to a URL- and header-safe
 * alphabet: it travels in widget credentials (a header, a query parameter) and keys the
 * tenant-scoped widget hash (see tenantUserHash), where a separator inside it would be ambiguous.
 */
export const tenantKeySchema = z
  .string({ error: 'is required' })
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/, 'must be 1 to 128 letters, digits, "_", ".", ":" or "-", starting with a letter or digit');
