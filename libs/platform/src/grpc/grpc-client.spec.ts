import { grpcTarget, loadBalancingChannelOptions } from './grpc-client';

describe('gRPC client targets', () => {
  it('resolves a bare host:port through DNS (every address of the name) and keeps explicit schemes', () => {
    expect(grpcTarget('token-manager:50051')).toBe('dns:///token-manager:50051');
    expect(grpcTarget('127.0.0.1:50051')).toBe('dns:///127.0.0.1:50051');
    expect(grpcTarget('[::1]:50051')).toBe('dns:///[::1]:50051');
    expect(grpcTarget('dns:///token-manager.batchgate.svc:50051')).toBe('dns:///token-manager.batchgate.svc:50051');
    expect(grpcTarget('ipv4:127.0.0.1:1,127.0.0.1:2')).toBe('ipv4:127.0.0.1:1,127.0.0.1:2');
    expect(grpcTarget('unix:/run/tm.sock')).toBe('unix:/run/tm.sock');
  });

  it('asks grpc-js for the chosen load-balancing policy through the service config', () => {
    const config = JSON.parse(loadBalancingChannelOptions('round_robin')['grpc.service_config'] ?? '{}');
    expect(config).toEqual({ loadBalancingConfig: [{ round_robin: {} }] });
  });
});
