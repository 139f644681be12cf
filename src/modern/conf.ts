import { CONF_PATH, CRYPT_CIPHER, CRYPT_NAME, MD_DEVICE, SWAP_LABEL, SWAP_PRIORITY, type ModernPlan } from './plan.ts';

/**
 * /etc/ramster/modern.conf: the node's plan as lines `ramster-modern` (playbooks/files/modern)
 * reads at every boot. One record per line, fields separated by one space, `-` for "unset".
 */
export function renderModernConf(plan: ModernPlan): string {
  const lines = [
    `# ${CONF_PATH}: written by ramster-provision for node ${plan.node} of cluster ${plan.cluster}; read by ramster-modern.`,
    '# Do not edit: the next apply puts it back. Records:',
    '#   port   <listen address> <tcp port>',
    '#   lend   <borrower node> <subsystem nqn> <host nqn> <tmpfs file> <MiB> <DH-HMAC-CHAP key file>',
    '#   borrow <lender node> <subsystem nqn> <host nqn> <address> <port> <ctrl_loss_tmo> <fast_io_fail_tmo> <DH-HMAC-CHAP key file>',
    '#   swap   <label> <priority> <device: first namespace, or the md RAID1 of both>',
    '#   zswap  <compressor> <max_pool_percent>',
    '#   crypt  <dm name> <cipher>   (encryption: dm-crypt: the swap sits on /dev/mapper/<dm name> over the device above, key made at every boot)',
  ];
  if (plan.lends.length) lines.push(`port ${plan.address} ${plan.port}`);
  for (const l of plan.lends)
    lines.push(`lend ${l.borrower} ${l.subsystem} ${l.hostNqn} ${l.file} ${l.sizeMb} ${l.authFile ?? '-'}`);
  for (const b of plan.borrows)
    lines.push(
      `borrow ${b.lender} ${b.subsystem} ${b.hostNqn} ${b.address} ${b.port} ${b.ctrlLossTmo} ${b.fastIoFailTmo ?? '-'} ${b.authFile ?? '-'}`,
    );
  if (plan.borrows.length) {
    lines.push(`swap ${SWAP_LABEL} ${SWAP_PRIORITY} ${plan.mirrored ? MD_DEVICE : 'namespace'}`);
    lines.push(`zswap ${plan.zswap?.compressor ?? '-'} ${plan.zswap?.maxPoolPercent ?? '-'}`);
    if (plan.encryption === 'dm-crypt') lines.push(`crypt ${CRYPT_NAME} ${CRYPT_CIPHER}`);
  }
  return `${lines.join('\n')}\n`;
}
