"""Payment providers: Alipay, WeChat Pay, UnionPay, EMVCo MPM, and the simulated wallet."""
