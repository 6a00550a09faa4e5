import { ShutdownRegistry } from '../src/shutdown';

describe('ShutdownRegistry', () => {
  it('runs steps once, in registration order, continuing past failures and time-outs', async () => {
    const order: string[] = [];
    const reg = new ShutdownRegistry();
    reg.register('stop intake', () => {
      order.push('stop intake');
    });
    reg.register('drain', async () => {
      order.push('drain');
      throw new Error('drain failed');
    });
    reg.register('hangs', () => new Promise<void>(() => order.push('hangs')), 20);
    reg.register('close db', async () => {
      order.push('close db');
    });
    await Promise.all([reg.shutdown('test'), reg.shutdown('again')]);
    await reg.shutdown('third');
    expect(order).toEqual(['stop intake', 'drain', 'hangs', 'close db']);
    expect(reg.isShuttingDown).toBe(true);
  });
});
