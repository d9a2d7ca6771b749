/** Entry point of the device host process (see host.ts); started by client.ts. */
import { serve } from './host';

serve();
