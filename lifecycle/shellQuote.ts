/**
 * Every value that reaches a remote shell is validated against a narrow pattern by
 * the config loader AND single-quoted here: validation gives the operator a clear
 * error at preview, quoting keeps a missed case from becoming an injection.
 */
export function shq(value: string | number): string {
    return `'${String(value).replace(/'/g, `'\\''`)}'`;
}
