using System.Diagnostics;
using System.Diagnostics.Metrics;
using ModelKit.Diagnostics;

namespace ModelKit.Abstractions.Tests.Diagnostics;

public sealed class ModelKitTelemetryTests
{
    [Fact]
    public void StartActivity_NoListeners_ReturnsNull()
    {
        using var source = new ActivitySource($"test.{Guid.NewGuid():N}");

        Assert.Null(ModelKitTelemetryHelpers.StartActivity(source, "op"));
    }

    [Fact]
    public void StartActivity_WithListener_StartsAndRecordErrorTagsTheExceptionType()
    {
        using var source = new ActivitySource($"test.{Guid.NewGuid():N}");
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s == source,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);

        using Activity? activity = ModelKitTelemetryHelpers.StartActivity(source, "modelkit.test.op");
        ModelKitTelemetryHelpers.RecordError(activity, new InvalidModelException("bad bytes"));

        Assert.NotNull(activity);
        Assert.Equal("modelkit.test.op", activity.OperationName);
        Assert.Equal(ActivityStatusCode.Error, activity.Status);
        Assert.Equal("bad bytes", activity.StatusDescription);
        Assert.Equal(typeof(InvalidModelException).FullName, activity.GetTagItem(ModelKitTelemetry.ErrorTypeTag));
    }

    [Fact]
    public void CreateMeter_WithFactory_FactoryOwnsIt_WithoutFactory_CallerOwnsIt()
    {
        using var factory = new ListMeterFactory();

        Meter fromFactory = ModelKitTelemetryHelpers.CreateMeter(factory, ModelKitTelemetry.ServingName, out Meter? notOwned);
        Meter standalone = ModelKitTelemetryHelpers.CreateMeter(null, ModelKitTelemetry.ServingName, out Meter? owned);
        using (owned)
        {
            Assert.Null(notOwned);
            Assert.Same(standalone, owned);
            Assert.Equal("ModelKit.Serving", fromFactory.Name);
            Assert.Equal("ModelKit.Serving", standalone.Name);
        }
    }

    private sealed class ListMeterFactory : IMeterFactory
    {
        private readonly List<Meter> _meters = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(options.Name, options.Version, options.Tags, this);
            _meters.Add(meter);
            return meter;
        }

        public void Dispose() => _meters.ForEach(m => m.Dispose());
    }
}
