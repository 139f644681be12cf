/** An error the lab reports to the user as is: what went wrong and how to fix it. */
export class LabError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(hint ? `${message}\n  hint: ${hint}` : message);
    this.name = 'LabError';
  }
}
