/** The name of the handler role in organization members (and the management account), which the shared key's policies name. */
export const MEMBER_HANDLER_ROLE_NAME = 'cloudcraft-registration-handler';
