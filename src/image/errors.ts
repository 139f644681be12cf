import { ToolError } from '../guestimage/errors.ts';

/** An image build failure reported to the user as is: what went wrong and how to fix it. */
export class ImageError extends ToolError {
  constructor(message: string, hint?: string) {
    super(message, hint);
    this.name = 'ImageError';
  }
}
