/** How a role's access uses Cloudcraft's live minimal policy: not at all, checked daily, or followed (applied). */
export type LivePolicyUse = 'none' | 'check' | 'follow';
