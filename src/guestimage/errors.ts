/** An error reported to the user as is: what went wrong and how to fix it. The lab and image
 *  builds derive their own from it; guest image work throws it directly. */
export class ToolError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(hint ? `${message}\n  hint: ${hint}` : message);
    this.name = 'ToolError';
  }
}
