import { ToolError } from '../guestimage/errors.ts';

/** An error the lab reports to the user as is: what went wrong and how to fix it. */
export class LabError extends ToolError {
  constructor(message: string, hint?: string) {
    super(message, hint);
    this.name = 'LabError';
  }
}
