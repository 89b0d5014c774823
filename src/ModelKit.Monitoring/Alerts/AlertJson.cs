using System.Globalization;
using System.Text.Json;

namespace ModelKit.Monitoring.Alerts;

/// <summary>Writes alerts in Alertmanager's v2 <c>postableAlert</c> form.</summary>
internal static class AlertJson
{
    public static void WriteAlert(Utf8JsonWriter writer, AlertNotification n, DateTimeOffset? endsAt)
    {
        writer.WriteStartObject();
        writer.WriteStartObject("labels");
        foreach ((string key, string value) in n.Labels)
        {
            writer.WriteString(key, value);
        }

        writer.WriteEndObject();
        writer.WriteStartObject("annotations");
        foreach ((string key, string value) in n.Annotations)
        {
            writer.WriteString(key, value);
        }

        writer.WriteEndObject();
        writer.WriteString("startsAt", n.StartsAt.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
        if (endsAt is DateTimeOffset end)
        {
            writer.WriteString("endsAt", end.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
        }

        writer.WriteString("generatorURL", $"modelkit://monitoring/{n.ModelName}/{n.ModelVersion.ToString(CultureInfo.InvariantCulture)}");
        writer.WriteEndObject();
    }
}
