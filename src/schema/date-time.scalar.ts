import { GraphQLScalarType, Kind } from 'graphql';

/**
 * An instant as an ISO 8601 string. Views already hold ISO strings (converted once, where rows are
 * read), so serializing passes them through; a Date is converted once here.
 */
export const DateTimeScalar = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  description: 'An instant in ISO 8601 form, UTC, e.g. 2026-01-15T04:00:00.000Z.',
  serialize(value) {
    if (typeof value === 'string') return value;
    if (value instanceof Date) return value.toISOString();
    throw new TypeError('DateTime cannot represent a value that is neither an ISO string nor a Date.');
  },
  parseValue(value) {
    return toDate(value);
  },
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING) throw new TypeError('DateTime literals are ISO 8601 strings.');
    return toDate(ast.value);
  },
});

function toDate(value: unknown): Date {
  const date = typeof value === 'string' ? new Date(value) : undefined;
  if (!date || Number.isNaN(date.getTime())) throw new TypeError('DateTime expects an ISO 8601 string.');
  return date;
}
